//! Every AWS API operation the operator calls, with what the rest of the crate needs to know
//! about it: is it a write, may it be retried blindly, and KMS's default request quota.

use std::fmt;

macro_rules! operations {
    ($($op:ident => $write:expr, $idempotent:expr, $quota:expr;)*) => {
        /// An AWS API operation the operator calls.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Op { $($op,)* }

        impl Op {
            pub const ALL: &'static [Op] = &[$(Op::$op,)*];

            pub fn name(self) -> &'static str {
                match self { $(Op::$op => stringify!($op),)* }
            }

            /// Changes state in AWS.
            pub fn is_write(self) -> bool {
                match self { $(Op::$op => $write,)* }
            }

            /// Repeating the call after an unknown outcome cannot create a second resource.
            pub fn is_idempotent(self) -> bool {
                match self { $(Op::$op => $idempotent,)* }
            }

            /// The service's published default request quota (requests per second, per account
            /// and region).
            pub fn default_quota(self) -> u32 {
                match self { $(Op::$op => $quota,)* }
            }
        }
    };
}

// Quotas: https://docs.aws.amazon.com/kms/latest/developerguide/requests-per-second.html
operations! {
    CreateKey => true, false, 5;
    ReplicateKey => true, false, 5;
    DescribeKey => false, true, 2000;
    ListKeys => false, true, 500;
    ListResourceTags => false, true, 2000;
    GetKeyPolicy => false, true, 1000;
    PutKeyPolicy => true, true, 15;
    GetKeyRotationStatus => false, true, 1000;
    EnableKeyRotation => true, true, 15;
    DisableKeyRotation => true, true, 5;
    // Each call uses one of a key's 10 on-demand rotations: never repeated blindly.
    RotateKeyOnDemand => true, false, 5;
    ListKeyRotations => false, true, 100;
    EnableKey => true, true, 5;
    DisableKey => true, true, 5;
    UpdateKeyDescription => true, true, 5;
    TagResource => true, true, 10;
    UntagResource => true, true, 5;
    ScheduleKeyDeletion => true, true, 15;
    CancelKeyDeletion => true, true, 5;
    ListAliases => false, true, 500;
    CreateAlias => true, false, 5;
    UpdateAlias => true, true, 5;
    DeleteAlias => true, true, 15;
    ListGrants => false, true, 100;
    CreateGrant => true, false, 50;
    RetireGrant => true, true, 50;
    RevokeGrant => true, true, 50;
    GetCallerIdentity => false, true, 100;
    // CloudWatch: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_limits.html
    DescribeAlarms => false, true, 9;
    PutMetricAlarm => true, true, 3;
    DeleteAlarms => true, true, 3;
    // CloudWatch Logs lists no quota for its metric filter calls; they are paced like the
    // control-plane calls its quota page does list (CreateLogGroup, DescribeLogGroups: 5).
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html
    DescribeMetricFilters => false, true, 5;
    PutMetricFilter => true, true, 5;
    DeleteMetricFilter => true, true, 5;
}

impl Op {
    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|op| op.name().eq_ignore_ascii_case(name))
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The IAM service prefix of the operation's API.
    pub fn service(self) -> &'static str {
        match self {
            Op::GetCallerIdentity => "sts",
            Op::DescribeAlarms | Op::PutMetricAlarm | Op::DeleteAlarms => "cloudwatch",
            Op::DescribeMetricFilters | Op::PutMetricFilter | Op::DeleteMetricFilter => "logs",
            _ => "kms",
        }
    }

    /// The IAM action this operation needs, as an AccessDenied message names it.
    pub fn iam_action(self) -> String {
        format!("{}:{}", self.service(), self.name())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_round_trips_through_its_name() {
        for op in Op::ALL {
            assert_eq!(Op::parse(op.name()), Some(*op));
            assert_eq!(Op::ALL[op.index()], *op);
        }
        assert_eq!(Op::parse("createkey"), Some(Op::CreateKey));
        assert_eq!(Op::parse("Nope"), None);
    }

    #[test]
    fn creating_and_rotating_calls_are_the_ones_never_retried_blindly() {
        let blind_unsafe: Vec<_> = Op::ALL.iter().filter(|op| !op.is_idempotent()).collect();
        assert_eq!(
            blind_unsafe,
            vec![&Op::CreateKey, &Op::ReplicateKey, &Op::RotateKeyOnDemand, &Op::CreateAlias, &Op::CreateGrant]
        );
        assert!(Op::ALL.iter().filter(|op| !op.is_write()).all(|op| op.is_idempotent()));
    }
}
