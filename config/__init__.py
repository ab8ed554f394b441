"""Settings (defaults < file < env < flags) and the persona prompt."""
