//! One set of validation rules for every front door: local mode before any AWS call, and the controller before any write.
