"""Live operation: band plans, sweeping, status line, evidence clips and recording."""
