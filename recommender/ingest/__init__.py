"""Reading article files into validated articles."""
