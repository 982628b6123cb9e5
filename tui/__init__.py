"""mlgate's Textual front end for reviewers. It calls `engine.service` and reads `engine.audit`; the engine
never imports it."""
