#!/bin/sh
# Captures the docker inspect outputs in this directory from the real engine.
# Needs the swarmdns-testbox:test image (run the dockertest tests once to
# build it). Everything it creates is prefixed "cap-" and removed at the end;
# the Swarm part runs only when the engine is not in a swarm, and leaves it.
set -eu
cd "$(dirname "$0")"
IMG=swarmdns-testbox:test
P=cap
cleanup() {
	docker rm -f $(docker ps -aq --filter label=swarmdns.capture=1) >/dev/null 2>&1 || true
	docker-compose -p ${P}proj -f "$TMP/docker-compose.yml" down -v >/dev/null 2>&1 || true
	docker network rm $P-front $P-back >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
TMP=$(mktemp -d)
trap cleanup EXIT
L="--label swarmdns.capture=1"
cap() { docker inspect "$2" | sed 's/^/  /;1s/^  //' >"$1.json"; }

docker network create $P-front --subnet 10.231.1.0/24 >/dev/null
docker network create $P-back --subnet 10.231.2.0/24 --ipv6 --subnet fd00:231:2::/64 >/dev/null

docker run -d $L --name web-1 $IMG >/dev/null
cap plain web-1

docker run -d $L --name cap-labels --hostname api-host \
	--label 'swarmdns.name=extra,Bad_Name!,deep.er.name,,extra.swarm.internal' \
	--label 'swarmdns.srv=http=8080/tcp,metrics=9100,dns=53/udp,broken,bad=99999/tcp' \
	--label 'swarmdns.cname=www,Legacy_Api' \
	--expose 8080 --expose 53/udp -p 127.0.0.1::8080 $IMG >/dev/null
cap labels cap-labels

docker create $L --name cap-multi --network $P-front --network-alias front-alias $IMG >/dev/null
docker network connect --alias back-alias --alias Second_Alias $P-back cap-multi
docker start cap-multi >/dev/null
cap multinet cap-multi

docker run -d $L --name cap-host --network host $IMG >/dev/null
cap hostnet cap-host
docker run -d $L --name cap-none --network none $IMG >/dev/null
cap nonenet cap-none
docker run -d $L --name cap-shared --network container:web-1 $IMG >/dev/null
cap containernet cap-shared

docker run -d $L --name My_Odd.Name.With.Dots $IMG >/dev/null
cap oddname My_Odd.Name.With.Dots
docker run -d $L --name a123456789b123456789c123456789d123456789e123456789f123456789g123456789 $IMG >/dev/null
cap longname a123456789b123456789c123456789d123456789e123456789f123456789g123456789
id=$(docker run -d $L $IMG)
cap autoname "$id"

docker run -d $L --name cap-hidden --label swarmdns.enable=false $IMG >/dev/null
cap hidden cap-hidden

docker run $L --name cap-exited $IMG exit-after 0s >/dev/null
cap exited cap-exited

cat >"$TMP/docker-compose.yml" <<YAML
version: "2.4"
services:
  api:
    image: $IMG
    scale: 2
    labels:
      swarmdns.capture: "1"
  db:
    image: $IMG
    labels:
      swarmdns.capture: "1"
    healthcheck:
      test: ["CMD", "/testbox", "exit-after", "0s"]
      interval: 1s
YAML
docker-compose -p ${P}proj -f "$TMP/docker-compose.yml" up -d >/dev/null 2>&1
i=0; until [ "$(docker inspect -f '{{.State.Health.Status}}' ${P}proj_db_1)" = healthy ]; do i=$((i+1)); [ $i -lt 50 ] || exit 1; sleep 0.2; done
cap compose ${P}proj_api_1
cap healthy ${P}proj_db_1

if [ "$(docker info -f '{{.Swarm.LocalNodeState}}')" = inactive ]; then
	gwbridge_before=$(docker network ls -q --filter name=^docker_gwbridge$)
	docker swarm init --advertise-addr 127.0.0.1 >/dev/null
	docker network create -d overlay --attachable --subnet 10.231.9.0/24 ${P}_net >/dev/null
	docker service create -d --name ${P}stack_web --replicas 2 --network ${P}_net \
		--label com.docker.stack.namespace=${P}stack --container-label com.docker.stack.namespace=${P}stack \
		--no-resolve-image $IMG >/dev/null
	docker service create -d --name ${P}stack_agent --mode global --network ${P}_net \
		--container-label com.docker.stack.namespace=${P}stack --no-resolve-image $IMG >/dev/null
	i=0; until [ "$(docker ps -q --filter label=com.docker.swarm.service.name=${P}stack_web | wc -l)" -eq 2 ] &&
		[ "$(docker ps -q --filter label=com.docker.swarm.service.name=${P}stack_agent | wc -l)" -eq 1 ]; do
		i=$((i+1)); [ $i -lt 100 ] || { docker service ps ${P}stack_web ${P}stack_agent; exit 1; }; sleep 0.2
	done
	cap swarm-replicated "$(docker ps -q --filter name=${P}stack_web.1.)"
	cap swarm-global "$(docker ps -q --filter label=com.docker.swarm.service.name=${P}stack_agent)"
	docker service rm ${P}stack_web ${P}stack_agent >/dev/null
	i=0; until [ -z "$(docker ps -aq --filter label=com.docker.swarm.service.name)" ]; do i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.2; done
	docker network rm ${P}_net >/dev/null || true
	docker swarm leave --force >/dev/null
	if [ -z "$gwbridge_before" ]; then docker network rm docker_gwbridge >/dev/null 2>&1 || true; fi
fi
echo captured: *.json
