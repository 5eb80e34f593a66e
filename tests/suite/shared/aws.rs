use aws_credential_types::provider::ProvideCredentials;
use mooring::aws::filter::FilterSpec;
use mooring::aws::instance::describe_instance;
use mooring::aws::volumes::{self, AttachOutcome, VolumeSpec};
use mooring::aws::{Aws, AwsError};
use mooring::block::resolve::Via;
use mooring::exit::{code_for, Code};
use mooring::wait::Deadline;
use rig::{Rig, SimInstance};
use serde_json::json;
use std::time::{Duration, SystemTime};

async fn connect(rig: &Rig, inst: &SimInstance) -> Aws {
    Aws::connect(&rig.aws_options(inst), Some("us-east-1"))
        .await
        .unwrap()
}

pub(crate) fn spec(az: &str, size_gib: i32, tags: &[(&str, &str)]) -> VolumeSpec {
    VolumeSpec {
        size_gib,
        volume_type: "gp3".into(),
        iops: None,
        throughput: None,
        encrypted: false,
        kms_key_id: None,
        snapshot_id: None,
        availability_zone: az.into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// A new 1 GiB volume in `az`, created by the library as a tool would.
async fn new_volume(aws: &Aws, az: &str, token: &str) -> mooring::aws::volumes::VolumeInfo {
    volumes::create_volume(
        &aws.ec2,
        &spec(az, 1, &[]),
        token,
        SystemTime::now(),
        &deadline(),
    )
    .await
    .unwrap()
    .volume
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

/// The tools get credentials the way they do on EC2: from the instance
/// profile through IMDS, with none in the environment.
#[tokio::test]
async fn credentials_come_from_the_instance_profile() {
    for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"] {
        assert!(
            std::env::var_os(var).is_none(),
            "{var} is set: the test must get credentials from IMDS"
        );
    }
    let rig = Rig::start();
    let inst = rig.instance(json!({}));
    let aws = connect(&rig, &inst).await;
    let creds = aws
        .sdk_config
        .credentials_provider()
        .unwrap()
        .provide_credentials()
        .await
        .unwrap();
    // The rig gives each instance a key of its own (see access_key_of).
    let key = format!("AKIA{}", inst.id.replace('-', "").to_uppercase());
    assert_eq!(creds.access_key_id(), key);
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(me.state, "running");
    assert!(describe_instance(&aws.ec2, "i-0123456789abcdef0")
        .await
        .unwrap()
        .is_none());
}

/// Create with tags at creation, attach, find the device by volume ID
/// through the Nitro sysfs serial; a rerun of the attach is a no-op.
#[tokio::test]
async fn create_attach_resolve_and_rerun() {
    let rig = Rig::start();
    let inst = rig.instance(json!({}));
    let aws = connect(&rig, &inst).await;
    let started = SystemTime::now();
    let created = volumes::create_volume(
        &aws.ec2,
        &spec(
            &inst.az,
            1,
            &[("managed-by", "mooring"), ("source-instance", &inst.id)],
        ),
        "test-token-1",
        started,
        &deadline(),
    )
    .await
    .unwrap();
    let vol = created.volume;
    assert!(created.fresh.is_some());
    assert_eq!(vol.tag("managed-by"), Some("mooring"));
    assert_eq!(vol.state, "available");

    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    let outcome = volumes::attach_volume(&aws.ec2, &me, &vol).await.unwrap();
    let AttachOutcome::Attached { device } = outcome else {
        panic!("unexpected {outcome:?}")
    };
    assert_eq!(device, "/dev/sdf");
    volumes::wait_attached(&aws.ec2, &vol.volume_id, &inst.id, &deadline())
        .await
        .unwrap();
    let found = inst
        .resolver()
        .wait(
            &vol.volume_id,
            Some(&device),
            Some(vol.size_bytes()),
            &deadline(),
        )
        .await
        .unwrap();
    assert_eq!(found.via, Via::NvmeSerial);
    let loop_dev = rig.devices(&inst)[&vol.volume_id]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(found.path.to_str().unwrap(), loop_dev);
    inst.resolver()
        .recheck(&found, Some(&device), None)
        .unwrap();

    // Rerun: the instance now lists it; no AttachVolume is sent.
    rig.calls(true);
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    let again = volumes::attach_volume(&aws.ec2, &me, &vol).await.unwrap();
    assert_eq!(
        again,
        AttachOutcome::AlreadyAttached {
            device: "/dev/sdf".into()
        }
    );
    let (calls, _) = rig.calls(true);
    assert_eq!(calls, vec!["DescribeInstances"]);

    // Describe by tag: the tags come back in the answer.
    let listed = volumes::describe_volumes(&aws.ec2, &[FilterSpec::tag("managed-by", "mooring")])
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].tag("source-instance"), Some(inst.id.as_str()));
    let (calls, _) = rig.calls(true);
    assert_eq!(calls, vec!["DescribeVolumes"], "no DescribeTags, one call");
}

/// A crash-and-retry with the same ClientToken returns the same volume, and
/// a later run sees it as adopted, not fresh.
#[tokio::test]
async fn client_token_makes_create_idempotent_even_when_the_answer_is_lost() {
    let rig = Rig::start();
    let inst = rig.instance(json!({}));
    let aws = connect(&rig, &inst).await;
    // The first CreateVolume reaches EC2 but its answer is lost: the SDK
    // retries with the same token.
    rig.faults(json!([{"match": "CreateVolume", "times": 1, "fault": "drop_after"}]));
    let s = spec(&inst.az, 2, &[("purpose", "token-test")]);
    let first = volumes::create_volume(&aws.ec2, &s, "tok-A", SystemTime::now(), &deadline())
        .await
        .unwrap();
    let later_run = SystemTime::now() + Duration::from_secs(60);
    let second = volumes::create_volume(&aws.ec2, &s, "tok-A", later_run, &deadline())
        .await
        .unwrap();
    assert_eq!(first.volume.volume_id, second.volume.volume_id);
    assert!(
        second.fresh.is_none(),
        "a volume from an earlier run counted as fresh"
    );
    let ec2 = rig.ec2().await;
    let all = ec2
        .describe_volumes()
        .filters(FilterSpec::tag("purpose", "token-test").to_ec2())
        .send()
        .await
        .unwrap();
    assert_eq!(
        all.volumes().len(),
        1,
        "the lost answer made a second volume"
    );
    let (calls, fired) = rig.calls(false);
    assert_eq!(fired, 1);
    assert_eq!(calls.iter().filter(|c| *c == "CreateVolume").count(), 3);
}

/// Another instance attached the volume between our describe and our
/// attach: EC2 says VolumeInUse, which is a lost race, not an error.
#[tokio::test]
async fn attach_recognises_a_lost_race() {
    let rig = Rig::start();
    let a = rig.instance(json!({}));
    let b = rig.instance(json!({}));
    let aws_a = connect(&rig, &a).await;
    let aws_b = connect(&rig, &b).await;
    let vol = new_volume(&aws_a, &a.az, "race").await;
    let me_a = describe_instance(&aws_a.ec2, &a.id).await.unwrap().unwrap();
    let me_b = describe_instance(&aws_b.ec2, &b.id).await.unwrap().unwrap();
    let won = volumes::attach_volume(&aws_a.ec2, &me_a, &vol)
        .await
        .unwrap();
    assert!(matches!(won, AttachOutcome::Attached { .. }), "{won:?}");
    // B still holds the stale view in which the volume is available.
    let lost = volumes::attach_volume(&aws_b.ec2, &me_b, &vol)
        .await
        .unwrap();
    let AttachOutcome::LostRace { reason } = lost else {
        panic!("expected a lost race, got {lost:?}")
    };
    assert!(reason.contains("VolumeInUse"), "{reason}");
    // And with a fresh view it does not even try.
    let fresh = volumes::describe_volume(&aws_b.ec2, &vol.volume_id)
        .await
        .unwrap()
        .unwrap();
    rig.calls(true);
    let lost = volumes::attach_volume(&aws_b.ec2, &me_b, &fresh)
        .await
        .unwrap();
    assert!(matches!(lost, AttachOutcome::LostRace { .. }));
    assert!(rig.calls(true).0.is_empty());
}

/// A device name taken behind our back moves the attach to the next name;
/// a volume in another AZ is refused by EC2 (ZoneMismatch) as an error.
#[tokio::test]
async fn attach_moves_past_a_device_name_in_use() {
    let rig = Rig::start();
    let inst = rig.instance(json!({}));
    let aws = connect(&rig, &inst).await;
    let stale_view = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    let v1 = new_volume(&aws, &inst.az, "n1").await;
    let v2 = new_volume(&aws, &inst.az, "n2").await;
    // Someone else takes /dev/sdf.
    rig.ec2()
        .await
        .attach_volume()
        .volume_id(&v1.volume_id)
        .instance_id(&inst.id)
        .device("/dev/sdf")
        .send()
        .await
        .unwrap();
    let got = volumes::attach_volume(&aws.ec2, &stale_view, &v2)
        .await
        .unwrap();
    assert_eq!(
        got,
        AttachOutcome::Attached {
            device: "/dev/sdg".into()
        }
    );

    let other_az = volumes::create_volume(
        &aws.ec2,
        &spec("us-east-1c", 1, &[]),
        "n3",
        SystemTime::now(),
        &deadline(),
    )
    .await
    .unwrap()
    .volume;
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    let err = volumes::attach_volume(&aws.ec2, &me, &other_az)
        .await
        .unwrap_err();
    let aws_err = err.downcast_ref::<AwsError>().expect("typed AWS error");
    assert!(aws_err.code_is("InvalidVolume.ZoneMismatch"), "{err:#}");
    assert!(
        format!("{err:#}").contains(&other_az.volume_id),
        "error does not name the volume"
    );
}

/// No slots left: the instance says so before any attach, and EC2's
/// AttachmentLimitExceeded is final (exit code 3), never retried as a race.
#[tokio::test]
async fn attachment_limit_is_counted_and_final() {
    let rig = Rig::start();
    // The root volume and the primary ENI already use both slots.
    let inst = rig.instance(json!({"attachment_limit": 2}));
    let aws = connect(&rig, &inst).await;
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(me.free_attachment_slots(2), 0);
    assert_eq!(me.free_attachment_slots(28), 26);
    let vol = new_volume(&aws, &inst.az, "lim").await;
    let err = volumes::attach_volume(&aws.ec2, &me, &vol)
        .await
        .unwrap_err();
    assert!(err
        .downcast_ref::<AwsError>()
        .unwrap()
        .code_is("AttachmentLimitExceeded"));
    assert_eq!(code_for(&err), Code::AwsRefused);
}

/// An attach that takes a while (EC2's `attaching` phase): the wait is
/// bounded, and the device shows up once the attachment completes.
#[tokio::test]
async fn waits_through_the_attaching_phase() {
    let rig = Rig::start();
    rig.config(json!({"attach_delay": 1.5}));
    let inst = rig.instance(json!({"naming": "by-id"}));
    let aws = connect(&rig, &inst).await;
    let vol = new_volume(&aws, &inst.az, "slow").await;
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    volumes::attach_volume(&aws.ec2, &me, &vol).await.unwrap();
    let now = volumes::describe_volume(&aws.ec2, &vol.volume_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.attachment.unwrap().state, "attaching");
    assert!(inst
        .resolver()
        .resolve(&vol.volume_id, None, None)
        .unwrap()
        .is_none());
    let found = inst
        .resolver()
        .wait(&vol.volume_id, None, None, &deadline())
        .await
        .unwrap();
    assert_eq!(found.via, Via::ById);
    let attached = volumes::wait_attached(&aws.ec2, &vol.volume_id, &inst.id, &deadline())
        .await
        .unwrap();
    assert_eq!(attached.attachment.unwrap().state, "attached");

    // A wait shorter than the attach runs out with a typed error.
    let v2 = new_volume(&aws, &inst.az, "slow2").await;
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    volumes::attach_volume(&aws.ec2, &me, &v2).await.unwrap();
    let short = Deadline::after(Duration::from_millis(300));
    let err = inst
        .resolver()
        .wait(&v2.volume_id, None, None, &short)
        .await
        .unwrap_err();
    assert_eq!(code_for(&err), Code::TimedOut, "{err:#}");
}

/// DeleteOnTermination is off after an API attach; set it, verify it, and
/// a second call makes no AWS call at all.
#[tokio::test]
async fn delete_on_termination_is_set_and_verified() {
    let rig = Rig::start();
    let inst = rig.instance(json!({}));
    let aws = connect(&rig, &inst).await;
    let vol = new_volume(&aws, &inst.az, "dot").await;
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    volumes::attach_volume(&aws.ec2, &me, &vol).await.unwrap();
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!me.device_of(&vol.volume_id).unwrap().delete_on_termination);
    assert!(
        volumes::ensure_delete_on_termination(&aws.ec2, &me, &vol.volume_id, true)
            .await
            .unwrap()
    );
    let me = describe_instance(&aws.ec2, &inst.id)
        .await
        .unwrap()
        .unwrap();
    assert!(me.device_of(&vol.volume_id).unwrap().delete_on_termination);
    rig.calls(true);
    assert!(
        !volumes::ensure_delete_on_termination(&aws.ec2, &me, &vol.volume_id, true)
            .await
            .unwrap()
    );
    assert!(rig.calls(true).0.is_empty());
    // Terminating the instance now takes the volume with it.
    let ec2 = rig.ec2().await;
    ec2.terminate_instances()
        .instance_ids(&inst.id)
        .send()
        .await
        .unwrap();
    assert!(volumes::describe_volume(&ec2, &vol.volume_id)
        .await
        .unwrap()
        .is_none());
}

/// Throttling, 500s and dropped connections are survived through the SDK's
/// retries; the proxy proves the faults really fired.
#[tokio::test]
async fn throttling_errors_and_drops_are_survived() {
    let rig = Rig::start();
    let inst = rig.instance(json!({}));
    let aws = connect(&rig, &inst).await;
    rig.faults(json!([
        {"match": "DescribeVolumes", "times": 2, "fault": "throttle"},
        {"match": "DescribeVolumes", "skip": 2, "times": 1, "fault": "error500"},
        {"match": "DescribeVolumes", "skip": 3, "times": 1, "fault": "drop"},
    ]));
    let vols = volumes::describe_volumes(&aws.ec2, &[]).await.unwrap();
    assert_eq!(vols.len(), 1, "the root volume");
    let (calls, fired) = rig.calls(true);
    assert_eq!(fired, 4);
    assert_eq!(calls.iter().filter(|c| *c == "DescribeVolumes").count(), 5);

    // Past the retry budget, the error is typed, names the call, and is
    // one line.
    rig.faults(json!([{"match": "DescribeVolumes", "times": 100, "fault": "throttle"}]));
    let opts = mooring::aws::AwsOptions {
        max_attempts: Some(2),
        ..rig.aws_options(&inst)
    };
    let impatient = Aws::connect(&opts, Some("us-east-1")).await.unwrap();
    let err = volumes::describe_volumes(&impatient.ec2, &[FilterSpec::tag("a", "b")])
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.starts_with("DescribeVolumes [tag:a=b]: RequestLimitExceeded"),
        "{msg}"
    );
    assert_eq!(code_for(&err), Code::AwsRefused);
}

/// The proxy models EC2's throttling: a token bucket per API family
/// (describe, mutate), RequestLimitExceeded when it is empty, nothing for
/// other services. (No refill here, so every answer is known.)
#[tokio::test]
async fn ec2_throttling_is_a_token_bucket_per_api_family() {
    use rig::error_code;
    let rig = Rig::start();
    rig.throttle(json!({
        "describe": {"size": 2, "refill": 0},
        "mutate": {"size": 1, "refill": 0},
    }));
    let ec2 = rig.proxy_ec2_without_retries();
    for _ in 0..2 {
        assert_eq!(error_code(ec2.describe_volumes().send().await), "");
    }
    assert_eq!(
        error_code(ec2.describe_instances().send().await),
        "RequestLimitExceeded"
    );
    let create = || {
        ec2.create_volume()
            .availability_zone("us-east-1a")
            .size(1)
            .send()
    };
    assert_eq!(
        error_code(create().await),
        "",
        "mutations have a bucket of their own"
    );
    assert_eq!(error_code(create().await), "RequestLimitExceeded");
    assert_eq!(rig.throttled(), 2);

    // A bucket that starts empty throttles the first call, whenever it
    // comes; off again, nothing is throttled.
    rig.throttle(json!({"describe": {"size": 5, "refill": 0, "tokens": 0}}));
    assert_eq!(
        error_code(ec2.describe_volumes().send().await),
        "RequestLimitExceeded"
    );
    assert_eq!(
        error_code(create().await),
        "",
        "mutations are not limited now"
    );
    rig.throttle(json!({}));
    for _ in 0..5 {
        assert_eq!(error_code(ec2.describe_volumes().send().await), "");
    }
    assert_eq!(rig.throttled(), 3);
}
