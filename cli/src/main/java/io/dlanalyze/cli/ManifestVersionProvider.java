package io.dlanalyze.cli;

import picocli.CommandLine.IVersionProvider;

/** The version from the jar manifest (Implementation-Version), or "dev" when run from classes. */
public final class ManifestVersionProvider implements IVersionProvider {
  @Override
  public String[] getVersion() {
    String version = DlAnalyze.class.getPackage().getImplementationVersion();
    return new String[] {
      "dl-analyze " + (version == null ? "dev" : version),
      "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")",
    };
  }
}
