# syntax=docker/dockerfile:1
# The mpcguard image for users who build with Docker:
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(git describe --tags --always --dirty) --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(git log -1 --format=%cI) -t mpcguard .
# It yields the image `make image` builds without Docker (test/tools/image): the same go build command (the
# Makefile's IMAGE_GO_BUILD; test/release compares them), a static binary at /mpcguard, no shell, /tmp with
# mode 1777, user 65532:65532 and the same OCI labels. The release images are built by `make image`.
FROM golang:1.26.8 AS build
ARG TARGETOS=linux TARGETARCH=amd64 VERSION=dev COMMIT=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH} CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -buildid= -X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/mpcguard ./cmd/mpcguard \
 && mkdir -m 1777 /out/tmp

FROM scratch
ARG VERSION=dev COMMIT=unknown CREATED=1970-01-01T00:00:00Z
COPY --from=build /out/mpcguard /mpcguard
COPY --from=build /out/tmp /tmp
ENV TMPDIR=/tmp
USER 65532:65532
WORKDIR /
LABEL org.opencontainers.image.title="mpcguard" \
      org.opencontainers.image.description="Party-role admission webhook and policy checks for threshold-signing (MPC) systems on Kubernetes" \
      org.opencontainers.image.source="https://github.com/mpcguard/mpcguard" \
      org.opencontainers.image.url="https://github.com/mpcguard/mpcguard" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.created="${CREATED}"
ENTRYPOINT ["/mpcguard"]
