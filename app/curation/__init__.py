"""The curation loop: what the bot failed on, curated into training data, trained, compared, activated."""
