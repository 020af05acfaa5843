"""Attachments: uploaded files checked and prepared once (`inspect`), stored and served to their
owner (`views`), attached to a message (`services`), and put into a prompt (`prompt`). docs/attachments.md.
"""
