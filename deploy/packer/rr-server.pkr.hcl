# The DCS server image rr launches: Windows Server 2022, DCS World dedicated server and the chosen
# terrains, SRS, Tacview's exporter, LotAtc where licensed, an embeddable Python with rr's agent
# (copied from this checkout), the ED login helper, and a start-up task that prepares the NVMe
# instance store and copies DCS onto it. Build: packer build -var region=... rr-server.pkr.hcl
# (deploy/README.md). Nothing here has run on Windows from this repository: see "Unproven".

variable "region" {
  type        = string
  default     = "eu-west-1"
  description = "Where the image is built and registered (rr's region)."
}

variable "build_instance_type" {
  type        = string
  default     = "m6i.large"
  description = "The builder; the image runs on any of rr's types (i3, i3en)."
}

variable "root_volume_gib" {
  type        = number
  default     = 120
  description = "System volume: Windows, DCS and the terrains (59.7 GB for Afghanistan alone)."
}

variable "dcs_branch" {
  type        = string
  default     = "release"
  description = "DCS_updater branch: release or openbeta."
}

variable "terrains" {
  type        = list(string)
  default     = ["CAUCASUS_terrain", "PERSIANGULF_terrain", "SYRIA_terrain"]
  description = "DCS_updater module ids of the terrains to install (Caucasus ships with WORLD)."
}

variable "dcs_install_dir" {
  type        = string
  default     = "D:\\DCS World Server"
  description = "Where DCS runs: on the NVMe instance store (RR_EC2_DCS_INSTALL_DIR)."
}

variable "srs_version" {
  type    = string
  default = "2.1.1.0"
}

variable "srs_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of SRS's release zip; empty skips the check (set it for production)."
}

variable "tacview_installer_url" {
  type    = string
  default = "https://www.tacview.net/download/latest/en/"
}

variable "lotatc_installer_url" {
  type        = string
  default     = ""
  description = "LotAtc's installer, for licensed operators only; empty installs no LotAtc."
}

variable "python_version" {
  type    = string
  default = "3.11.9"
}

variable "python_sha256" {
  type        = string
  default     = ""
  description = "SHA-256 of python-<version>-embed-amd64.zip; required (install-agent.ps1 stops without it)."
}

packer {
  required_version = ">= 1.6.6"
}

locals {
  timestamp = formatdate("YYYYMMDD-hhmm", timestamp())
  stage     = "C:\\rr\\stage"
}

source "amazon-ebs" "dcs" {
  region                 = var.region
  instance_type          = var.build_instance_type
  ami_name               = "rr-dcs-server-${local.timestamp}"
  ami_description        = "rr DCS World server: DCS, ${join(" ", var.terrains)}, SRS, Tacview, rr agent"
  skip_region_validation = true
  source_ami_filter {
    filters = {
      name                = "Windows_Server-2022-English-Full-Base-*"
      virtualization-type = "hvm"
      root-device-type    = "ebs"
    }
    owners      = ["amazon"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = var.root_volume_gib
    volume_type           = "gp3"
    iops                  = 3000
    throughput            = 125
    encrypted             = true
    delete_on_termination = true
  }
  communicator   = "winrm"
  winrm_username = "Administrator"
  winrm_use_ssl  = true
  winrm_insecure = true
  winrm_timeout  = "20m"
  user_data      = "<powershell>\n${file("${path.root}/scripts/enable-winrm.ps1")}\n</powershell>"
  tags = {
    Name           = "rr-dcs-server"
    "rr:component" = "server-image"
  }
}

build {
  sources = ["source.amazon-ebs.dcs"]

  provisioner "powershell" {
    inline = ["New-Item -ItemType Directory -Force -Path '${local.stage}' | Out-Null"]
  }

  # rr's agent and its DCS hook, exactly as in this checkout.
  provisioner "file" {
    source      = "${path.root}/../../agent"
    destination = "${local.stage}\\agent"
  }

  provisioner "file" {
    source      = "${path.root}/scripts/"
    destination = "C:\\rr\\scripts"
  }

  provisioner "powershell" {
    script = "${path.root}/scripts/install-base.ps1"
  }

  provisioner "powershell" {
    script           = "${path.root}/scripts/install-dcs.ps1"
    environment_vars = ["RR_DCS_BRANCH=${var.dcs_branch}", "RR_TERRAINS=${join(",", var.terrains)}"]
  }

  provisioner "windows-restart" {}

  provisioner "powershell" {
    script           = "${path.root}/scripts/install-srs.ps1"
    environment_vars = ["RR_SRS_VERSION=${var.srs_version}", "RR_SRS_SHA256=${var.srs_sha256}"]
  }

  provisioner "powershell" {
    script           = "${path.root}/scripts/install-tacview.ps1"
    environment_vars = ["RR_TACVIEW_URL=${var.tacview_installer_url}"]
  }

  provisioner "powershell" {
    script           = "${path.root}/scripts/install-lotatc.ps1"
    environment_vars = ["RR_LOTATC_URL=${var.lotatc_installer_url}"]
  }

  provisioner "powershell" {
    script = "${path.root}/scripts/install-agent.ps1"
    environment_vars = [
      "RR_PYTHON_VERSION=${var.python_version}",
      "RR_PYTHON_SHA256=${var.python_sha256}",
      "RR_AGENT_STAGE=${local.stage}\\agent",
    ]
  }

  provisioner "powershell" {
    script           = "${path.root}/scripts/register-boot-tasks.ps1"
    environment_vars = ["RR_DCS_INSTALL_DIR=${var.dcs_install_dir}"]
  }

  # Sysprep last, so each server gets its own identity and a fresh Administrator password.
  provisioner "powershell" {
    inline = [
      "& \"$env:ProgramFiles\\Amazon\\EC2Launch\\EC2Launch.exe\" reset --block",
      "& \"$env:ProgramFiles\\Amazon\\EC2Launch\\EC2Launch.exe\" sysprep --shutdown --block",
    ]
  }
}
