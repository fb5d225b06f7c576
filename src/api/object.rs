use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The four kinds of `kmsoperator.dev/v1alpha1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    AwsAccount,
    KmsKey,
    KmsAlias,
    KmsGrant,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::AwsAccount, Kind::KmsKey, Kind::KmsAlias, Kind::KmsGrant];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AwsAccount => "AwsAccount",
            Kind::KmsKey => "KmsKey",
            Kind::KmsAlias => "KmsAlias",
            Kind::KmsGrant => "KmsGrant",
        }
    }

    pub fn parse(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    pub fn is_namespaced(self) -> bool {
        !matches!(self, Kind::AwsAccount)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Names one object the way users read it back: `KmsKey platform-kms/datamesh`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName {
    pub kind: Kind,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectName {
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> Self {
        ObjectName {
            kind,
            namespace: if kind.is_namespaced() { namespace.map(str::to_owned) } else { None },
            name: name.to_owned(),
        }
    }

    /// The name of an object by its metadata.
    pub fn of(kind: Kind, meta: &ObjectMeta) -> Self {
        ObjectName::new(kind, meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default())
    }

    /// `namespace/name`, or `name` for cluster-scoped kinds.
    pub fn qualified(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.qualified())
    }
}
