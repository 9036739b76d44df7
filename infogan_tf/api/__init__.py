"""The Python API behind ``import infogan_tf as ig`` (the package face re-exports it lazily).

``configure`` builds a TrainConfig from a preset and flag values (the rules of
``infogan-train``), ``run`` trains, exports, evaluates and samples, ``model``
loads an export for numpy-in / numpy-out use. The command lines in
``infogan_tf/cli`` are thin callers of these functions. Importing this
package imports nothing else: each module pays for TensorFlow only when a
function that needs it is called.
"""
