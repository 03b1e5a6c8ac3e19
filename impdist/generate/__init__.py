"""Teacher generation: news-prefix contexts, then sampled candidate continuations."""
