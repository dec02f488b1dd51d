"""What the tests and the benchmarks share: the stand-in checkpoint (`standin`: Marqo's architecture and config.json
with weights whose output moves with the input, as a folder and as a Hugging Face cache entry), synthetic safe images
(`images`), hostile and unusual files (`corpus`), zip builders (`zips`) and the app launched as `python app.py` on a
loopback port (`server`). It imports `model` and third-party libraries only, never `tests` or `benchmarks`, and is
not part of the app."""
