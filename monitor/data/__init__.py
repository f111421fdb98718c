"""Data shipped with the package: the relevance model's weights (``relevance_model.json``)."""
