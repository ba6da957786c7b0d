"""The student pages under /me/: server-rendered, phone-first; they call selectors."""
