"""Text handling shared by the gate and the scan: normalisation and the sentence encoder."""
