"""KokoroChat research dataset: import, export, statistics and the administrators' pages."""
