"""radio layer of hanbench; see README.md for what lives here."""
