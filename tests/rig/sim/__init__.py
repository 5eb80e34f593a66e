"""The rig's AWS side, one module per concern; launcher.py wires them."""
