# Bakes an AMI with Mooring installed (packer init . && packer build
# -var package=mooring_0.1.0-1_amd64.deb -var source_ami=ami-... .).
# Debian or Ubuntu images take the .deb, Amazon Linux 2023 the .rpm
# (`make package` builds both). Nothing is enabled by the package; list the
# units this AMI's role needs in enable_units, and give each instance the
# matching policy from /usr/share/doc/mooring/iam/ and user-data from
# /usr/share/doc/mooring/examples/cloud-init/.

packer {
  required_plugins {
    amazon = {
      version = ">= 1.3.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

variable "package" {
  type        = string
  description = "Path to the mooring .deb or .rpm built by `make package`."
}

variable "source_ami" {
  type        = string
  description = "The AMI to start from (Debian 12, Ubuntu 22.04+ or Amazon Linux 2023)."
}

variable "ssh_username" {
  type    = string
  default = "admin"
}

variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "instance_type" {
  type    = string
  default = "t3.small"
}

variable "enable_units" {
  type        = list(string)
  description = "Units to enable, e.g. [\"ebs-grow-init@scratch.service\", \"ebs-grow@scratch.timer\"]."
  default     = []
}

source "amazon-ebs" "mooring" {
  region        = var.region
  source_ami    = var.source_ami
  instance_type = var.instance_type
  ssh_username  = var.ssh_username
  ami_name      = "mooring-${formatdate("YYYYMMDD-hhmm", timestamp())}"
  # IMDSv2 only: the tools speak nothing else.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }
  imds_support = "v2.0"
}

build {
  sources = ["source.amazon-ebs.mooring"]

  provisioner "file" {
    source      = var.package
    destination = "/tmp/${basename(var.package)}"
  }

  provisioner "shell" {
    inline = [
      "set -eu",
      "pkg=/tmp/${basename(var.package)}",
      "case \"$pkg\" in *.deb) sudo apt-get install -y \"$pkg\" ;; *.rpm) sudo dnf install -y \"$pkg\" ;; *) echo \"not a .deb or .rpm: $pkg\" >&2; exit 1 ;; esac",
      "for tool in ebs-grow etcd-member-prepare smilodon-attach px-volume-claim ecs-node-guard mooring-leave; do $tool --version; done",
      "sudo systemctl daemon-reload",
      "for unit in ${join(" ", var.enable_units)}; do sudo systemctl enable \"$unit\"; done",
      "rm -f \"$pkg\"",
    ]
  }
}
