"""PDF annual reports → wide-table rows, provenance and text chunks; batch ingestion; table import.

One report flows: ``pdf_text`` (page text, bad-file reasons) → ``sections`` (第X节) → ``locate`` (which
pages hold the consolidated statements and the profile / staff / R&D tables) → ``tables`` (camelot on
those pages only) → ``statements`` / ``statement_text`` / ``basic_info`` / ``staff`` / ``rd`` (rows →
canonical fields through the field dictionary) → ``extract`` (all of it, no database) → ``pipeline``
(one transaction per report) → ``chunks``. ``batch`` runs many files in a process pool; ``cli`` adds
the commands; ``bench`` and ``accuracy`` measure.
"""
