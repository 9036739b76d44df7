"""Serving: the signature contract, the exported module, export, and the clients of an export."""
