"""Share links: read-only views of a conversation, frozen at a message (snapshot) or live.

`services` creates and revokes links, `selectors` reads what a viewer may see, `api` is their JSON
API, `views` the viewer's page, `consumer` the viewer's read-only socket, `admin` the operator's list.
"""
