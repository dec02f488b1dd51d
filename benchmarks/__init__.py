"""Side-by-side performance benchmark: the matmul floor, the model card's pipeline, the classifier and the app."""
