"""The chat UI: Jinja2 templates and static assets (no external CDN, works offline)."""
