"""MCP servers as tool sources: `client` speaks to one server through the official `mcp` SDK,
`toolbox` turns the registered servers' tools into Parley tools, and `admin` registers servers."""
