//! AWS calls, throttles and failures by operation, read from the engine's call counts at each
//! scrape.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use crate::aws::{CallStats, Op};

#[derive(Debug)]
pub(super) struct CallCollector(pub Arc<CallStats>);

impl Collector for CallCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        type Read = fn(&CallStats, Op) -> u64;
        let series: [(&str, &str, Read); 3] = [
            ("kms_operator_aws_calls", "AWS API calls, by operation", CallStats::calls),
            (
                "kms_operator_aws_throttles",
                "AWS API calls answered with throttling, by operation",
                CallStats::throttles,
            ),
            ("kms_operator_aws_call_failures", "AWS API calls that failed, by operation", CallStats::failures),
        ];
        for (name, help, read) in series {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for op in Op::ALL {
                let labels = [("operation", op.name())];
                ConstCounter::new(read(&self.0, *op)).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
