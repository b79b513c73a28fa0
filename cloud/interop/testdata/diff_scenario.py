"""One boto3 script for the differential test: run it against moto's server and against
ec2grid cloud, and compare the shapes of what botocore parses.

usage: diff_scenario.py        (run by Debian's /usr/bin/python3 with python3-boto3)

The endpoint and keys come from the environment (EC2_ENDPOINT, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION). It makes the same calls in the same order on
either server and prints one JSON object: for each action, either "keys", the sorted paths
of every key in botocore's parse of the answer (values aside; "[]" stands for list items,
merged over all items), or "error", the EC2 error code it got instead.
"""
import json
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

POLL = float(os.environ.get("EC2_POLL_INTERVAL", "0.05"))
TIMEOUT = float(os.environ.get("EC2_STATE_TIMEOUT", "60"))

with open(os.environ["EC2_PUBLIC_KEY_FILE"], "rb") as f:
    PUBLIC_KEY = f.read()

ec2 = boto3.client(
    "ec2",
    endpoint_url=os.environ["EC2_ENDPOINT"],
    region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
    aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    config=Config(retries={"total_max_attempts": 1}),
)

results = {}


def paths(value, prefix=""):
    """Every key path in a parsed answer."""
    out = set()
    if isinstance(value, dict):
        for k, v in value.items():
            p = prefix + "." + k if prefix else k
            out.add(p)
            out |= paths(v, p)
    elif isinstance(value, list):
        for v in value:
            out |= paths(v, prefix + "[]")
    return out


def call(action, **kwargs):
    """Call one action, record the shape of its answer, and return the answer (or None)."""
    method = getattr(ec2, "".join("_" + c.lower() if c.isupper() else c for c in action).lstrip("_"))
    try:
        resp = method(**kwargs)
    except ClientError as e:
        results[action] = {"error": e.response["Error"]["Code"], "message": e.response["Error"].get("Message", "")}
        return None
    resp.pop("ResponseMetadata", None)
    results[action] = {"keys": sorted(paths(resp))}
    return resp


def wait_running(iid):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        out = ec2.describe_instances(InstanceIds=[iid])
        state = out["Reservations"][0]["Instances"][0]["State"]["Name"]
        if state == "running":
            return
        time.sleep(POLL)


def wait_stopped(iid):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        out = ec2.describe_instances(InstanceIds=[iid])
        if out["Reservations"][0]["Instances"][0]["State"]["Code"] & 0xFF == 80:
            return
        time.sleep(POLL)


call("DescribeRegions")
call("DescribeAvailabilityZones")
images = call("DescribeImages")
# ec2grid's test image; moto (run with EC2_IMAGE_ID empty) launches the first of its own.
image = os.environ.get("EC2_IMAGE_ID") or images["Images"][0]["ImageId"]
call("CreateKeyPair", KeyName="diff-key")
call("ImportKeyPair", KeyName="diff-imported", PublicKeyMaterial=PUBLIC_KEY)
call("DescribeKeyPairs")

run = call("RunInstances", ImageId=image, InstanceType="m1.small", MinCount=1, MaxCount=1, KeyName="diff-key",
           UserData="hello", ClientToken="diff-token-1",
           TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "scenario", "Value": "diff"}]}])
if run is None:
    print(json.dumps(results))
    sys.exit(0)
iid = run["Instances"][0]["InstanceId"]
zone = run["Instances"][0]["Placement"]["AvailabilityZone"]
wait_running(iid)
call("DescribeInstances", InstanceIds=[iid])
call("CreateTags", Resources=[iid], Tags=[{"Key": "Name", "Value": "diff"}, {"Key": "gone", "Value": "soon"}])
call("DescribeTags", Filters=[{"Name": "resource-id", "Values": [iid]}])
call("DeleteTags", Resources=[iid], Tags=[{"Key": "gone"}])
call("GetConsoleOutput", InstanceId=iid)

addr = call("AllocateAddress", Domain="vpc")
if addr is not None:
    if addr.get("AllocationId"):
        call("AssociateAddress", InstanceId=iid, AllocationId=addr["AllocationId"])
    else:
        call("AssociateAddress", InstanceId=iid, PublicIp=addr["PublicIp"])
call("DescribeAddresses")

vol = call("CreateVolume", AvailabilityZone=zone, Size=1)
if vol is not None:
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        v = ec2.describe_volumes(VolumeIds=[vol["VolumeId"]])["Volumes"][0]
        if v["State"] == "available":
            break
        time.sleep(POLL)
    call("AttachVolume", VolumeId=vol["VolumeId"], InstanceId=iid, Device="/dev/sdf")
call("DescribeVolumes")

call("StopInstances", InstanceIds=[iid])
wait_stopped(iid)
call("StartInstances", InstanceIds=[iid])
wait_running(iid)

spot = call("RequestSpotInstances", SpotPrice="0.50", InstanceCount=1, Type="one-time",
            LaunchSpecification={"ImageId": image, "InstanceType": "m1.small", "KeyName": "diff-key"})
if spot is not None:
    sir = spot["SpotInstanceRequests"][0]["SpotInstanceRequestId"]
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        r = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[sir])["SpotInstanceRequests"][0]
        if r["State"] == "active":
            break
        time.sleep(POLL)
    call("DescribeSpotInstanceRequests", SpotInstanceRequestIds=[sir])
    call("CancelSpotInstanceRequests", SpotInstanceRequestIds=[sir])
call("DescribeSpotPriceHistory", InstanceTypes=["m1.small"], MaxResults=5)

call("TerminateInstances", InstanceIds=[iid])
call("DeleteKeyPair", KeyName="diff-key")

print(json.dumps(results, indent=1, sort_keys=True))
