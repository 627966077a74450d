"""Domain operations: the only code that writes. They flush and audit; faces commit."""
