"""alignlab: an alignment-research lab in a box.

Components (``alignlab.models``, ``alignlab.scoring``, ``alignlab.generation``, ``alignlab.training``,
``alignlab.reporting``) work on any Hugging Face causal LM; ``alignlab.experiments`` re-runs the field's
findings on top of them.
"""

__version__ = "0.1.0"
