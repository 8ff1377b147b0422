"""Earlier implementations kept as references: a faster version must give the same results."""
