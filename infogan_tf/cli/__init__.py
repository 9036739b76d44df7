"""The command lines (``infogan-train``, ``-export``, ``-sample``, ``-evaluate``, ``-classifier``).

Each module turns its flags into one typed config and makes one library call;
``common`` holds the parsing and the one mapping of errors to exit codes.
"""
