"""Source data of the NordTech demo library: the document model, the renderers and one module per product line."""
