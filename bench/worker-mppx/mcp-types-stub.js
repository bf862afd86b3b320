// Stands in for @modelcontextprotocol/sdk/types.js, which mppx imports only for its MCP transport.
export {};
