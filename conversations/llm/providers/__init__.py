"""Vendor configurations: each module pairs a wire format with a vendor's URL and default model."""
