//! mcp (in progress)
