"""Stories: online clustering of articles into stories, kept in the article store."""
