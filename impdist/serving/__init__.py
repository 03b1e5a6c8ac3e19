"""`impdist serve`: a student as an HTTP JSON service with dynamic micro-batching (app.py: the
Starlette app and its uvicorn runner; batcher.py: the queue and the decode thread; requests.py:
what a request may hold; metrics.py: the Prometheus metrics). Needs `pip install 'impdist[serve]'`."""
