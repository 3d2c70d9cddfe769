"""Static files inlined into generated HTML pages (gallery, user-study forms)."""
