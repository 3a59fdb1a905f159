"""Search: the mixed Russian/English analyzer, the search backend interface and its Whoosh implementation."""
