"""The language stages: segmentation, the shared trunk, the tagger, linking, speaker resolution,
the form of a claim, and the two stance stages."""
