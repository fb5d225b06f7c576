//! Key policies: the builder that compiles `spec.policy` into a document, and semantic comparison.
