"""News dateline prefixes, the paper's stage-0 contextual constraint: `(MEDIA) --` (50%),
`COUNTRY (MEDIA) --` (25%), `CITY, COUNTRY (MEDIA) --` (25%, city upper-cased)."""
from __future__ import annotations

import json
import random
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    with resources.files("impdist.data").joinpath("news_prefix.json").open(encoding="utf-8") as f:
        data = json.load(f)
    return tuple((c, k) for c, k in data["city_country"]), tuple(data["media_list"])


def news_prefix(seed: int, index: int) -> str:
    """The index-th prefix of a run: depends only on (seed, index), so shards can be redone alone."""
    rng = random.Random(f"{seed}:{index}")
    places, media = _vocabulary()
    city, country = rng.choice(places)
    outlet = rng.choice(media)
    roll = rng.random()
    if roll < 0.5:
        return f"({outlet}) --"
    if roll < 0.75:
        return f"{country} ({outlet}) --"
    return f"{city.upper()}, {country} ({outlet}) --"
