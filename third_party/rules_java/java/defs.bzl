"""Offline stand-in for @rules_java.

Bazel always registers the JDK toolchains, even for C++ builds.
"""

java_import = native.java_import
java_runtime = native.java_runtime
java_toolchain = native.java_toolchain
