#!/usr/bin/env bash
# The interop scenario with the AWS CLI (Debian's awscli, /usr/bin/aws).
#
# usage: awscli_scenario.sh PART      PART is instances, keypairs or spot
#
# The endpoint, keys and image come from the environment the Go test sets (EC2_ENDPOINT,
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, EC2_IMAGE_ID,
# EC2_PUBLIC_KEY_FILE, EC2_POLL_INTERVAL, EC2_STATE_TIMEOUT). Prints what it does; exits
# non-zero, with the reason, at the first failure.
set -euo pipefail

AWS=${AWS:-/usr/bin/aws}
POLL=${EC2_POLL_INTERVAL:-0.05}
TIMEOUT=${EC2_STATE_TIMEOUT:-60}
TIMEOUT=${TIMEOUT%.*}

ec2() { "$AWS" --endpoint-url "$EC2_ENDPOINT" --output text ec2 "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

# expect_error CODE CMD...: CMD must fail with the EC2 error CODE.
expect_error() {
	local code=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "$* succeeded, want $code"
	fi
	[[ $out == *"($code)"* ]] || fail "$* failed without $code: $out"
}

# wait_state ID STATE: poll until the instance is in STATE.
wait_state() {
	local id=$1 want=$2 state="" end=$((SECONDS + TIMEOUT))
	while ((SECONDS < end)); do
		state=$(ec2 describe-instances --instance-ids "$id" --query 'Reservations[0].Instances[0].State.Name')
		[[ $state == "$want" ]] && return 0
		sleep "$POLL"
	done
	fail "$id is still $state after ${TIMEOUT}s, want $want"
}

instances() {
	local id state found reason
	read -r id state < <(ec2 run-instances --image-id "$EC2_IMAGE_ID" --instance-type m1.small --count 1 \
		--user-data "hello from the aws cli" --query 'Instances[0].[InstanceId,State.Name]')
	echo "launched $id $state"
	[[ $state == pending ]] || fail "new instance is $state"
	wait_state "$id" running
	read -r dns ip < <(ec2 describe-instances --instance-ids "$id" \
		--query 'Reservations[0].Instances[0].[PublicDnsName,PublicIpAddress]')
	[[ -n $dns && $dns != None && -n $ip && $ip != None ]] || fail "running instance without address: $dns $ip"
	echo "running at $dns $ip"
	ec2 create-tags --resources "$id" --tags Key=Name,Value=interop-awscli
	found=$(ec2 describe-instances --filters Name=tag:Name,Values=interop-awscli --query 'Reservations[].Instances[].InstanceId')
	[[ $found == *"$id"* ]] || fail "tag:Name filter found '$found'"
	found=$(ec2 describe-tags --filters "Name=resource-id,Values=$id" --query 'Tags[?Key==`Name`].Value')
	[[ $found == interop-awscli ]] || fail "describe-tags gave '$found'"
	state=$(ec2 terminate-instances --instance-ids "$id" --query 'TerminatingInstances[0].CurrentState.Name')
	[[ $state == shutting-down || $state == terminated ]] || fail "terminate-instances: $state"
	wait_state "$id" terminated
	reason=$(ec2 describe-instances --instance-ids "$id" --query 'Reservations[0].Instances[0].StateReason.Code')
	[[ $reason == Client.UserInitiatedShutdown ]] || fail "stateReason $reason"
	expect_error InvalidInstanceID.NotFound ec2 describe-instances --instance-ids i-0123456789abcdef0
	echo "terminated $id"
}

keypairs() {
	local material fp names
	material=$(ec2 create-key-pair --key-name interop-awscli --query KeyMaterial)
	[[ $material == "-----BEGIN"* ]] || fail "key material: ${material:0:40}"
	fp=$(ec2 describe-key-pairs --key-names interop-awscli --query 'KeyPairs[0].KeyFingerprint')
	[[ -n $fp && $fp != None ]] || fail "no fingerprint"
	echo "created key, fingerprint $fp"
	expect_error InvalidKeyPair.Duplicate ec2 create-key-pair --key-name interop-awscli
	fp=$(ec2 import-key-pair --key-name interop-awscli-imported --public-key-material "fileb://$EC2_PUBLIC_KEY_FILE" \
		--query KeyFingerprint)
	[[ -n $fp && $fp != None ]] || fail "import-key-pair gave no fingerprint"
	names=$(ec2 describe-key-pairs --query 'KeyPairs[].KeyName')
	[[ $names == *interop-awscli* && $names == *interop-awscli-imported* ]] || fail "describe-key-pairs lists $names"
	ec2 delete-key-pair --key-name interop-awscli
	ec2 delete-key-pair --key-name interop-awscli-imported
	expect_error InvalidKeyPair.NotFound ec2 describe-key-pairs --key-names interop-awscli
	echo "deleted keys"
}

spot() {
	local sir state id price end
	read -r sir state < <(ec2 request-spot-instances --spot-price 0.50 --instance-count 1 --type one-time \
		--launch-specification "{\"ImageId\":\"$EC2_IMAGE_ID\",\"InstanceType\":\"m1.small\"}" \
		--query 'SpotInstanceRequests[0].[SpotInstanceRequestId,State]')
	echo "requested $sir $state"
	end=$((SECONDS + TIMEOUT))
	while ((SECONDS < end)); do
		read -r state id < <(ec2 describe-spot-instance-requests --spot-instance-request-ids "$sir" \
			--query 'SpotInstanceRequests[0].[State,InstanceId]')
		[[ $state == active && -n $id && $id != None ]] && break
		sleep "$POLL"
	done
	[[ $state == active ]] || fail "spot request $sir is $state after ${TIMEOUT}s"
	price=$(ec2 describe-spot-price-history --instance-types m1.small --query 'SpotPriceHistory[0].SpotPrice')
	[[ $(awk -v p="$price" 'BEGIN { print (p == 0.05) }') == 1 ]] || fail "spot price $price"
	state=$(ec2 cancel-spot-instance-requests --spot-instance-request-ids "$sir" --query 'CancelledSpotInstanceRequests[0].State')
	[[ $state == cancelled ]] || fail "cancel-spot-instance-requests: $state"
	ec2 terminate-instances --instance-ids "$id" >/dev/null
	echo "cancelled $sir and terminated $id"
}

case ${1:-} in
instances | keypairs | spot) "$1" ;;
*) fail "usage: awscli_scenario.sh instances|keypairs|spot" ;;
esac
echo OK
