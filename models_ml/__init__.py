"""The ML half of the platform: a folder of Django apps (scoring, finetuning, practice, arena,
coaching, jobs) and one Django-free library (llm). It is no Django app itself."""
