# The operator's image: the project's package and its dependencies in a virtualenv, on a slim
# Python base pinned by tag and digest, run as an unprivileged user with nothing to write.
#
#   make image        # docker build -t orgo-operator:<version> .
#
# The base's tag and digest are build arguments, so that a newer patch release can be swapped
# in from the command line; change them together, the digest being that tag's.
ARG PYTHON_TAG=3.13.7-slim-trixie
ARG PYTHON_DIGEST=sha256:5f55cdf0c5d9dc1a415637a5ccc4a9e18663ad203673173b8cda8f8dcacef689

FROM python:${PYTHON_TAG}@${PYTHON_DIGEST} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Only what the package is built from, so that a change to the tests or the chart does not
# invalidate this layer.
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN python -m venv /opt/orgo-operator \
    && /opt/orgo-operator/bin/pip install --no-cache-dir /src

FROM python:${PYTHON_TAG}@${PYTHON_DIGEST}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="orgo-operator" \
      org.opencontainers.image.description="Runs Orgo computers as OrgoComputer resources." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/orgo-operator /opt/orgo-operator
# Bytecode was compiled at install; the root filesystem is read-only at run time.
ENV PATH=/opt/orgo-operator/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The same unprivileged ids the chart's pod security context asks for.
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["orgo-operator"]
CMD ["run", "--all-namespaces"]
