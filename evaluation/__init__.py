"""Tools that measure and tune retrieval (evaluation against relevance judgements, training the re-ranker);
not part of the running product, so the runtime package stays small."""
