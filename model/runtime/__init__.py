"""Runtime: the model itself, from the Hub or a folder to forward passes on a device.

Hub download and failure diagnosis (`hub`) apart from building the timm model (`loading`), devices and precision
(`devices`), exported engines (`engines`), Hugging Face ZeroGPU (`zerogpu`), the `Classifier` (`classifier`), the
micro-batcher (`microbatch`), the per-session result cache (`cache`) and the server's C allocator (`allocator`).
May import the ground floor and `model.inputs`; never `tasks`, `evaluation` or `jobs`. This `__init__` imports
nothing, so that `model.runtime.zerogpu` can be imported before anything touches CUDA.
"""
