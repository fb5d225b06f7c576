//! What AWS documents each API call of the operator to need, written down as data with the page
//! it comes from, so that the IAM tests check the shipped policies against AWS's word and not
//! only against the project's own idea of a call (`kms:` + its name). A local KMS server checks
//! no permission at all, so this table is where a missing one shows.
//!
//! One row per operation in `kms_operator::aws::Op` (a test fails for an operation without
//! one). To add a service, add its operations' rows from the "Required permissions" (or
//! "Actions") of their API reference pages, and a `Target` if they act on a resource of their
//! own.

/// What a permission is authorised against, which decides the resource and the context keys of
/// the request the tests evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A key the operator created: the key policy delegates to IAM (`EnableRootAccess`), and IAM
    /// sees the key's ARN and its tags (`aws:ResourceTag`).
    Key,
    /// An alias's own ARN (`arn:aws:kms:<region>:<account>:alias/<name>`).
    Alias,
    /// No resource: `Resource: "*"` in an IAM policy. `tagged`: the request carries the ownership
    /// tag the operator gives every key and replica it creates (`aws:RequestTag`).
    Account { tagged: bool },
    /// The multi-Region service-linked role KMS creates (or re-creates) with every multi-Region
    /// primary key.
    MultiRegionServiceLinkedRole,
    /// A CloudWatch alarm the operator names (`arn:aws:cloudwatch:<region>:<account>:alarm:<name>`).
    Alarm,
    /// A CloudWatch Logs log group: metric filters are no resources of their own, so IAM
    /// authorises them on their log group (`arn:aws:logs:<region>:<account>:log-group:<name>`).
    LogGroup,
}

#[derive(Clone, Copy, Debug)]
pub struct Permission {
    pub action: &'static str,
    pub target: Target,
    /// The documentation's condition for needing it, when it is not always needed.
    pub when: Option<&'static str>,
}

#[derive(Clone, Copy, Debug)]
pub struct Documented {
    pub operation: &'static str,
    /// Empty: AWS documents that the call needs no permission.
    pub permissions: &'static [Permission],
    pub source: &'static str,
}

const fn always(action: &'static str, target: Target) -> Permission {
    Permission { action, target, when: None }
}

const fn with(action: &'static str, target: Target, when: &'static str) -> Permission {
    Permission { action, target, when: Some(when) }
}

/// The multi-Region service-linked role, exactly as IAM names it: path
/// `aws-service-role/<service principal>/`, name `AWSServiceRoleForKeyManagementServiceMultiRegionKeys`
/// (AWS KMS Developer Guide, "Authorizing AWS KMS to synchronize multi-Region keys").
pub const MULTI_REGION_ROLE_PATH: &str =
    "role/aws-service-role/mrk.kms.amazonaws.com/AWSServiceRoleForKeyManagementServiceMultiRegionKeys";
/// The `iam:AWSServiceName` of that role: the service principal that creates it.
pub const MULTI_REGION_SERVICE: &str = "mrk.kms.amazonaws.com";

const KEY: Target = Target::Key;
const ANY: Target = Target::Account { tagged: false };
const ANY_TAGGED: Target = Target::Account { tagged: true };

/// "Required permissions" of each call, from the AWS KMS API Reference
/// (https://docs.aws.amazon.com/kms/latest/APIReference/API_<Operation>.html; "(key policy)"
/// there means on the key, which the key policy may delegate to IAM), unless a row says otherwise.
pub const DOCUMENTED: &[Documented] = &[
    Documented {
        operation: "CreateKey",
        permissions: &[
            always("kms:CreateKey", ANY_TAGGED),
            with("kms:TagResource", ANY_TAGGED, "the Tags parameter"),
            with("iam:CreateServiceLinkedRole", Target::MultiRegionServiceLinkedRole, "MultiRegion: true"),
        ],
        source: "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html; the service-linked role: \
                 https://docs.aws.amazon.com/kms/latest/developerguide/multi-region-keys-auth.html#mrk-auth-create-primary",
    },
    Documented {
        operation: "ReplicateKey",
        permissions: &[
            always("kms:ReplicateKey", KEY),
            always("kms:CreateKey", ANY_TAGGED),
            with("kms:TagResource", ANY_TAGGED, "the Tags parameter"),
        ],
        source: "https://docs.aws.amazon.com/kms/latest/APIReference/API_ReplicateKey.html",
    },
    Documented { operation: "DescribeKey", permissions: &[always("kms:DescribeKey", KEY)], source: API },
    Documented { operation: "ListKeys", permissions: &[always("kms:ListKeys", ANY)], source: API },
    Documented { operation: "ListResourceTags", permissions: &[always("kms:ListResourceTags", KEY)], source: API },
    Documented { operation: "GetKeyPolicy", permissions: &[always("kms:GetKeyPolicy", KEY)], source: API },
    Documented { operation: "PutKeyPolicy", permissions: &[always("kms:PutKeyPolicy", KEY)], source: API },
    Documented {
        operation: "GetKeyRotationStatus",
        permissions: &[always("kms:GetKeyRotationStatus", KEY)],
        source: API,
    },
    Documented { operation: "EnableKeyRotation", permissions: &[always("kms:EnableKeyRotation", KEY)], source: API },
    Documented { operation: "DisableKeyRotation", permissions: &[always("kms:DisableKeyRotation", KEY)], source: API },
    Documented { operation: "RotateKeyOnDemand", permissions: &[always("kms:RotateKeyOnDemand", KEY)], source: API },
    Documented { operation: "ListKeyRotations", permissions: &[always("kms:ListKeyRotations", KEY)], source: API },
    Documented { operation: "EnableKey", permissions: &[always("kms:EnableKey", KEY)], source: API },
    Documented { operation: "DisableKey", permissions: &[always("kms:DisableKey", KEY)], source: API },
    Documented {
        operation: "UpdateKeyDescription",
        permissions: &[always("kms:UpdateKeyDescription", KEY)],
        source: API,
    },
    Documented { operation: "TagResource", permissions: &[always("kms:TagResource", KEY)], source: API },
    Documented { operation: "UntagResource", permissions: &[always("kms:UntagResource", KEY)], source: API },
    Documented {
        operation: "ScheduleKeyDeletion",
        permissions: &[always("kms:ScheduleKeyDeletion", KEY)],
        source: API,
    },
    Documented { operation: "CancelKeyDeletion", permissions: &[always("kms:CancelKeyDeletion", KEY)], source: API },
    Documented { operation: "ListAliases", permissions: &[always("kms:ListAliases", ANY)], source: API },
    Documented {
        operation: "CreateAlias",
        permissions: &[always("kms:CreateAlias", Target::Alias), always("kms:CreateAlias", KEY)],
        source: API,
    },
    Documented {
        operation: "UpdateAlias",
        // On the alias, the key it points at now and the key it is moved to: both owned keys.
        permissions: &[always("kms:UpdateAlias", Target::Alias), always("kms:UpdateAlias", KEY)],
        source: API,
    },
    Documented {
        operation: "DeleteAlias",
        permissions: &[always("kms:DeleteAlias", Target::Alias), always("kms:DeleteAlias", KEY)],
        source: API,
    },
    Documented { operation: "ListGrants", permissions: &[always("kms:ListGrants", KEY)], source: API },
    Documented { operation: "CreateGrant", permissions: &[always("kms:CreateGrant", KEY)], source: API },
    Documented {
        operation: "RetireGrant",
        // The operator is neither grantee nor retiring principal of its grants: it retires them
        // as a principal of the key's account, to which that account delegates kms:RetireGrant
        // in an IAM policy ("not effective in a key policy").
        permissions: &[always("kms:RetireGrant", KEY)],
        source: "https://docs.aws.amazon.com/kms/latest/developerguide/grant-delete.html",
    },
    Documented { operation: "RevokeGrant", permissions: &[always("kms:RevokeGrant", KEY)], source: API },
    // Key usage alarms (docs/monitoring.md). The Service Authorization Reference lists each
    // action's resource types: DescribeAlarms has none ("*"), the alarm writes act on the alarm,
    // and the metric-filter calls on their log group.
    Documented {
        operation: "DescribeAlarms",
        permissions: &[always("cloudwatch:DescribeAlarms", ANY)],
        source: CLOUDWATCH,
    },
    Documented {
        operation: "PutMetricAlarm",
        permissions: &[
            always("cloudwatch:PutMetricAlarm", Target::Alarm),
            // "If you are using this operation to create an alarm with tags, you must also have
            // cloudwatch:TagResource" (CloudWatch API Reference, PutMetricAlarm, Tags).
            with("cloudwatch:TagResource", Target::Alarm, "the Tags parameter"),
        ],
        source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html",
    },
    Documented {
        operation: "DeleteAlarms",
        permissions: &[always("cloudwatch:DeleteAlarms", Target::Alarm)],
        source: CLOUDWATCH,
    },
    Documented {
        operation: "DescribeMetricFilters",
        permissions: &[always("logs:DescribeMetricFilters", Target::LogGroup)],
        source: LOGS,
    },
    Documented {
        operation: "PutMetricFilter",
        permissions: &[always("logs:PutMetricFilter", Target::LogGroup)],
        source: LOGS,
    },
    Documented {
        operation: "DeleteMetricFilter",
        permissions: &[always("logs:DeleteMetricFilter", Target::LogGroup)],
        source: LOGS,
    },
    Documented {
        operation: "GetCallerIdentity",
        permissions: &[],
        source: "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html \
                 (\"No permissions are required to perform this operation\")",
    },
];

const API: &str = "https://docs.aws.amazon.com/kms/latest/APIReference/API_<Operation>.html";
const CLOUDWATCH: &str =
    "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html";
const LOGS: &str = "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html";

/// The documented row of `operation`.
pub fn documented(operation: &str) -> &'static Documented {
    DOCUMENTED.iter().find(|row| row.operation == operation).unwrap_or_else(|| {
        panic!("{operation}: no row in tests/support/aws_permissions.rs; add AWS's documented permissions")
    })
}
